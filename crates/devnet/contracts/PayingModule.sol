// SPDX-License-Identifier: Apache-2.0
// A Safe module for groupstate's devnet: once a Safe has enabled it, it moves the Safe's funds
// through `execTransactionFromModule` with no signature at all. It checks nothing about its
// caller on purpose: it stands for a module that can drain a treasury.
pragma solidity ^0.8.24;

interface ISafeModuleManager {
    function execTransactionFromModule(address to, uint256 value, bytes calldata data, uint8 operation)
        external
        returns (bool success);
}

contract PayingModule {
    /// The Safe reported the module transaction as failed (it returned false).
    error ModuleTransactionFailed(address safe, address to, uint256 value, uint8 operation);

    /// Pays `value` wei from `safe` to `to`.
    function pay(address safe, address to, uint256 value) external {
        exec(safe, to, value, "", 0);
    }

    /// Makes `safe` call (operation 0) or delegatecall (operation 1) `to` with `value` and `data`.
    function exec(address safe, address to, uint256 value, bytes memory data, uint8 operation) public {
        if (!ISafeModuleManager(safe).execTransactionFromModule(to, value, data, operation)) {
            revert ModuleTransactionFailed(safe, to, value, operation);
        }
    }
}
