// SPDX-License-Identifier: Apache-2.0
// An ERC-1155 multi-token for groupstate's devnet (OpenZeppelin 5.x): anyone may mint any amount
// of any id. A Safe accepts it through its CompatibilityFallbackHandler's onERC1155Received.
pragma solidity ^0.8.24;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

contract TestMultiToken is ERC1155 {
    constructor() ERC1155("") {}

    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}
