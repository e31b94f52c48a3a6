// SPDX-License-Identifier: Apache-2.0
// A plain ERC-20 for groupstate's devnet (OpenZeppelin 5.x): anyone may mint, so a test can fund a
// Safe with tokens without the governance token's roles and vote checkpoints.
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract TestToken is ERC20 {
    constructor() ERC20("groupstate test token", "GST") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
