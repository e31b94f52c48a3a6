//! The Safe ABI subset the devnet drives, as `sol!` signatures shared by Safe 1.3.0 and 1.4.1
//! (both versions use the same selectors and event topics for all of these).

use alloy::sol;

sol! {
    /// A Safe singleton or proxy (1.3.0 `GnosisSafe`/`GnosisSafeL2`, 1.4.1 `Safe`/`SafeL2`).
    #[derive(Debug)]
    interface ISafe {
        function setup(
            address[] calldata _owners,
            uint256 _threshold,
            address to,
            bytes calldata data,
            address fallbackHandler,
            address paymentToken,
            uint256 payment,
            address paymentReceiver
        ) external;
        function execTransaction(
            address to,
            uint256 value,
            bytes calldata data,
            uint8 operation,
            uint256 safeTxGas,
            uint256 baseGas,
            uint256 gasPrice,
            address gasToken,
            address refundReceiver,
            bytes memory signatures
        ) external payable returns (bool success);
        function getTransactionHash(
            address to,
            uint256 value,
            bytes calldata data,
            uint8 operation,
            uint256 safeTxGas,
            uint256 baseGas,
            uint256 gasPrice,
            address gasToken,
            address refundReceiver,
            uint256 _nonce
        ) external view returns (bytes32);
        function nonce() external view returns (uint256);
        function VERSION() external view returns (string memory);
        function getOwners() external view returns (address[] memory);
        function getThreshold() external view returns (uint256);
        function getModulesPaginated(address start, uint256 pageSize)
            external view returns (address[] memory array, address next);
        function addOwnerWithThreshold(address owner, uint256 _threshold) external;
        function removeOwner(address prevOwner, address owner, uint256 _threshold) external;
        function swapOwner(address prevOwner, address oldOwner, address newOwner) external;
        function changeThreshold(uint256 _threshold) external;
        function enableModule(address module) external;
        function disableModule(address prevModule, address module) external;
        function setGuard(address guard) external;
        function setFallbackHandler(address handler) external;

        event SafeSetup(
            address indexed initiator,
            address[] owners,
            uint256 threshold,
            address initializer,
            address fallbackHandler
        );
        event ExecutionSuccess(bytes32 indexed txHash, uint256 payment);
        event ExecutionFailure(bytes32 indexed txHash, uint256 payment);
        event SafeReceived(address indexed sender, uint256 value);
    }

    /// `SafeProxyFactory` 1.4.1 / `GnosisSafeProxyFactory` 1.3.0. Only 1.4.1 indexes `proxy`
    /// in `ProxyCreation`; the topic is the same.
    #[derive(Debug)]
    interface ISafeProxyFactory {
        function createProxyWithNonce(address _singleton, bytes memory initializer, uint256 saltNonce)
            external returns (address proxy);

        event ProxyCreation(address indexed proxy, address singleton);
    }

    /// `MultiSendCallOnly` 1.4.1, called directly (not by delegatecall) to pay many addresses.
    #[derive(Debug)]
    interface IMultiSendCallOnly {
        function multiSend(bytes memory transactions) external payable;
    }
}
