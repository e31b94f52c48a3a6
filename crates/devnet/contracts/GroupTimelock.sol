// SPDX-License-Identifier: Apache-2.0
// A group's timelock for groupstate's devnet: OpenZeppelin 5.x TimelockController, unchanged
// (same constructor, ABI and events), named for the artifact.
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

contract GroupTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
