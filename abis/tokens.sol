// SPDX-License-Identifier: MIT
// The token and proxy events groupstate follows besides ERC-20 `Transfer` (in governance.sol):
// ERC-20 allowances, ERC-721 and ERC-1155 transfers and approvals, and the EIP-1967 proxy events.
// ERC-20 and ERC-721 `Transfer` and `Approval` share their signatures (so their topic0) and differ
// only in which parameters are indexed: three topics for ERC-20, four for ERC-721.
pragma solidity ^0.8.20;

interface IERC20ApprovalEvents {
    event Approval(address indexed owner, address indexed spender, uint256 value);
}

interface IERC721Events {
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
    // Also ERC-1155's, with the same signature and layout.
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);
}

interface IERC1155Events {
    event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value);
    event TransferBatch(address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values);
}

/// EIP-1967 proxies (OpenZeppelin's ERC1967Utils, TransparentUpgradeableProxy, UUPS, beacons).
interface IERC1967Events {
    event Upgraded(address indexed implementation);
    event AdminChanged(address previousAdmin, address newAdmin);
    event BeaconUpgraded(address indexed beacon);
}
