// SPDX-License-Identifier: Apache-2.0
// An ERC-721 collection for groupstate's devnet (OpenZeppelin 5.x): anyone may mint any id, so a
// test can put an NFT in a Safe and watch it leave.
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

contract TestNft is ERC721 {
    constructor() ERC721("groupstate test NFT", "GSNFT") {}

    /// Mints `id` to `to` without the receiver check (`_mint`, not `_safeMint`).
    function mint(address to, uint256 id) external {
        _mint(to, id);
    }
}
