// SPDX-License-Identifier: Apache-2.0
// A small treasury for groupstate's devnet whose ownership moves in two steps
// (OpenZeppelin 5.x Ownable2Step): it holds ether and ERC-20 tokens and pays them out on the
// owner's order.
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

contract OwnedVault is Ownable2Step {
    using SafeERC20 for IERC20;

    event Paid(address indexed to, uint256 amount);
    event PaidToken(address indexed token, address indexed to, uint256 amount);

    constructor(address initialOwner) Ownable(initialOwner) {}

    receive() external payable {}

    function pay(address to, uint256 amount) external onlyOwner {
        Address.sendValue(payable(to), amount);
        emit Paid(to, amount);
    }

    function payToken(IERC20 token, address to, uint256 amount) external onlyOwner {
        token.safeTransfer(to, amount);
        emit PaidToken(address(token), to, amount);
    }
}
