//! The ABI subset the devnet drives, as `sol!` signatures: the Safe contracts (shared by Safe
//! 1.3.0 and 1.4.1, which use the same selectors and event topics for all of these), and the
//! token, module and attack contracts of `contracts/` (`TestToken`, `TestNft`,
//! `TestMultiToken`, `PayingModule`, `SlotZeroWriter`), built on OpenZeppelin 5.x.

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
        function execTransactionFromModule(address to, uint256 value, bytes memory data, uint8 operation)
            external returns (bool success);

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
        event ExecutionFromModuleSuccess(address indexed module);
        event ExecutionFromModuleFailure(address indexed module);
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

    /// `MultiSend` 1.3.0 / 1.4.1, delegatecalled by a Safe to run a batch (the full one accepts
    /// delegatecall items; `MultiSendCallOnly` has the same function and refuses them).
    #[derive(Debug)]
    interface IMultiSend {
        function multiSend(bytes memory transactions) external payable;
    }

    /// An ERC-20 token (`TestToken`, and any OpenZeppelin ERC20); `mint` is `TestToken`'s.
    #[derive(Debug)]
    interface IERC20 {
        function balanceOf(address account) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
        function transferFrom(address from, address to, uint256 value) external returns (bool);
        function mint(address to, uint256 amount) external;

        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);
    }

    /// An ERC-721 collection (`TestNft`); `mint` is `TestNft`'s. `sol!` names the two
    /// `safeTransferFrom` overloads `safeTransferFrom_0` (without data) and
    /// `safeTransferFrom_1` (with data).
    #[derive(Debug)]
    interface IERC721 {
        function balanceOf(address owner) external view returns (uint256);
        function ownerOf(uint256 tokenId) external view returns (address);
        function getApproved(uint256 tokenId) external view returns (address);
        function isApprovedForAll(address owner, address operator) external view returns (bool);
        function approve(address to, uint256 tokenId) external;
        function setApprovalForAll(address operator, bool approved) external;
        function transferFrom(address from, address to, uint256 tokenId) external;
        function safeTransferFrom(address from, address to, uint256 tokenId) external;
        function safeTransferFrom(address from, address to, uint256 tokenId, bytes data) external;
        function mint(address to, uint256 id) external;

        event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
        event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
        event ApprovalForAll(address indexed owner, address indexed operator, bool approved);
    }

    /// An ERC-1155 multi-token (`TestMultiToken`); `mint` is `TestMultiToken`'s.
    #[derive(Debug)]
    interface IERC1155 {
        function balanceOf(address account, uint256 id) external view returns (uint256);
        function isApprovedForAll(address account, address operator) external view returns (bool);
        function setApprovalForAll(address operator, bool approved) external;
        function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data) external;
        function safeBatchTransferFrom(
            address from,
            address to,
            uint256[] ids,
            uint256[] values,
            bytes data
        ) external;
        function mint(address to, uint256 id, uint256 amount) external;

        event TransferSingle(
            address indexed operator,
            address indexed from,
            address indexed to,
            uint256 id,
            uint256 value
        );
        event TransferBatch(
            address indexed operator,
            address indexed from,
            address indexed to,
            uint256[] ids,
            uint256[] values
        );
        event ApprovalForAll(address indexed account, address indexed operator, bool approved);
    }

    /// `PayingModule`: a contract module that moves a Safe's funds through
    /// `execTransactionFromModule`, reverting if the Safe reports failure.
    #[derive(Debug)]
    interface IPayingModule {
        function pay(address safe, address to, uint256 value) external;
        function exec(address safe, address to, uint256 value, bytes data, uint8 operation) external;

        error ModuleTransactionFailed(address safe, address to, uint256 value, uint8 operation);
    }

    /// `SlotZeroWriter`: delegatecalled by a Safe, overwrites the Safe's slot 0 (its singleton).
    #[derive(Debug)]
    interface ISlotZeroWriter {
        function overwrite(address newSingleton) external;
    }
}
