// SPDX-License-Identifier: Apache-2.0
// ERC-20 tokens whose metadata does not follow the standard's types, as some deployed tokens do:
// `Bytes32Token` answers `symbol()` and `name()` as `bytes32` (as MKR does) and `decimals()` as a
// `uint256`; `BrokenMetadataToken` reverts on `symbol()` and `name()` and answers a `decimals()`
// no token could mean. Both move balances like any ERC-20, and anyone may mint.
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract Bytes32Token {
    bytes32 public symbol = "MKR";
    bytes32 public name = "Maker";
    uint256 public decimals = 18;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        balanceOf[to] += amount;
        emit Transfer(msg.sender, to, amount);
        return true;
    }
}

contract BrokenMetadataToken is ERC20 {
    constructor() ERC20("", "") {}

    function symbol() public pure override returns (string memory) {
        revert("no symbol");
    }

    function name() public pure override returns (string memory) {
        revert("no name");
    }

    function decimals() public pure override returns (uint8) {
        // Read as a uint256 by callers that decode loosely; as uint8 this is 232.
        return 232;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
