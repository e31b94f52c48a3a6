//! The ABI of the devnet's governance contracts (`devnet/contracts/*.sol`, built on
//! OpenZeppelin 5.x), as `sol!` signatures: calls the devnet makes, views the tests read, and
//! every event the lifecycle emits.
//!
//! Invariant: each signature here matches the compiled contract's ABI; the governance test
//! checks every signature here against the compiler's output.

// `sol!` gives each event a constructor with one argument per field; `ProposalCreated` has nine.
#![allow(clippy::too_many_arguments)]

use alloy::sol;

sol! {
    /// `GroupGovernor`: OpenZeppelin `Governor` with `GovernorSettings`,
    /// `GovernorCountingSimple`, `GovernorVotes`, `GovernorVotesQuorumFraction` and
    /// `GovernorTimelockControl`.
    #[derive(Debug)]
    interface IGroupGovernor {
        function name() external view returns (string memory);
        function token() external view returns (address);
        function timelock() external view returns (address);
        function votingDelay() external view returns (uint256);
        function votingPeriod() external view returns (uint256);
        function proposalThreshold() external view returns (uint256);
        function quorumNumerator() external view returns (uint256);
        function quorumDenominator() external view returns (uint256);
        function quorum(uint256 timepoint) external view returns (uint256);
        function clock() external view returns (uint48);
        function CLOCK_MODE() external view returns (string memory);
        function COUNTING_MODE() external pure returns (string memory);

        function hashProposal(
            address[] memory targets,
            uint256[] memory values,
            bytes[] memory calldatas,
            bytes32 descriptionHash
        ) external pure returns (uint256);
        function getProposalId(
            address[] memory targets,
            uint256[] memory values,
            bytes[] memory calldatas,
            bytes32 descriptionHash
        ) external view returns (uint256);
        function state(uint256 proposalId) external view returns (uint8);
        function proposalSnapshot(uint256 proposalId) external view returns (uint256);
        function proposalDeadline(uint256 proposalId) external view returns (uint256);
        function proposalEta(uint256 proposalId) external view returns (uint256);
        function proposalProposer(uint256 proposalId) external view returns (address);
        function proposalNeedsQueuing(uint256 proposalId) external view returns (bool);
        function proposalVotes(uint256 proposalId)
            external view returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes);
        function hasVoted(uint256 proposalId, address account) external view returns (bool);

        function propose(
            address[] memory targets,
            uint256[] memory values,
            bytes[] memory calldatas,
            string memory description
        ) external returns (uint256 proposalId);
        function queue(
            address[] memory targets,
            uint256[] memory values,
            bytes[] memory calldatas,
            bytes32 descriptionHash
        ) external returns (uint256 proposalId);
        function execute(
            address[] memory targets,
            uint256[] memory values,
            bytes[] memory calldatas,
            bytes32 descriptionHash
        ) external payable returns (uint256 proposalId);
        function cancel(
            address[] memory targets,
            uint256[] memory values,
            bytes[] memory calldatas,
            bytes32 descriptionHash
        ) external returns (uint256 proposalId);
        function castVote(uint256 proposalId, uint8 support) external returns (uint256 balance);
        function castVoteWithReason(uint256 proposalId, uint8 support, string calldata reason)
            external returns (uint256 balance);

        /// Governance-only (the timelock calls them through a proposal).
        function setVotingDelay(uint48 newVotingDelay) external;
        function setVotingPeriod(uint32 newVotingPeriod) external;
        function setProposalThreshold(uint256 newProposalThreshold) external;
        function updateQuorumNumerator(uint256 newQuorumNumerator) external;
        function updateTimelock(address newTimelock) external;

        event ProposalCreated(
            uint256 proposalId,
            address proposer,
            address[] targets,
            uint256[] values,
            string[] signatures,
            bytes[] calldatas,
            uint256 voteStart,
            uint256 voteEnd,
            string description
        );
        event ProposalQueued(uint256 proposalId, uint256 etaSeconds);
        event ProposalExecuted(uint256 proposalId);
        event ProposalCanceled(uint256 proposalId);
        event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason);
        event VoteCastWithParams(
            address indexed voter,
            uint256 proposalId,
            uint8 support,
            uint256 weight,
            string reason,
            bytes params
        );
        event VotingDelaySet(uint256 oldVotingDelay, uint256 newVotingDelay);
        event VotingPeriodSet(uint256 oldVotingPeriod, uint256 newVotingPeriod);
        event ProposalThresholdSet(uint256 oldProposalThreshold, uint256 newProposalThreshold);
        event QuorumNumeratorUpdated(uint256 oldQuorumNumerator, uint256 newQuorumNumerator);
        event TimelockChange(address oldTimelock, address newTimelock);
    }

    /// `GroupTimelock`: OpenZeppelin `TimelockController`, unchanged. Its roles are managed
    /// through [`IAccessControl`].
    #[derive(Debug)]
    interface ITimelockController {
        function PROPOSER_ROLE() external view returns (bytes32);
        function EXECUTOR_ROLE() external view returns (bytes32);
        function CANCELLER_ROLE() external view returns (bytes32);
        function getMinDelay() external view returns (uint256);
        function isOperation(bytes32 id) external view returns (bool);
        function isOperationPending(bytes32 id) external view returns (bool);
        function isOperationReady(bytes32 id) external view returns (bool);
        function isOperationDone(bytes32 id) external view returns (bool);
        function getTimestamp(bytes32 id) external view returns (uint256);
        function getOperationState(bytes32 id) external view returns (uint8);
        function hashOperation(
            address target,
            uint256 value,
            bytes calldata data,
            bytes32 predecessor,
            bytes32 salt
        ) external pure returns (bytes32);
        function hashOperationBatch(
            address[] calldata targets,
            uint256[] calldata values,
            bytes[] calldata payloads,
            bytes32 predecessor,
            bytes32 salt
        ) external pure returns (bytes32);
        function schedule(
            address target,
            uint256 value,
            bytes calldata data,
            bytes32 predecessor,
            bytes32 salt,
            uint256 delay
        ) external;
        function scheduleBatch(
            address[] calldata targets,
            uint256[] calldata values,
            bytes[] calldata payloads,
            bytes32 predecessor,
            bytes32 salt,
            uint256 delay
        ) external;
        function execute(
            address target,
            uint256 value,
            bytes calldata payload,
            bytes32 predecessor,
            bytes32 salt
        ) external payable;
        function executeBatch(
            address[] calldata targets,
            uint256[] calldata values,
            bytes[] calldata payloads,
            bytes32 predecessor,
            bytes32 salt
        ) external payable;
        function cancel(bytes32 id) external;
        function updateDelay(uint256 newDelay) external;

        event CallScheduled(
            bytes32 indexed id,
            uint256 indexed index,
            address target,
            uint256 value,
            bytes data,
            bytes32 predecessor,
            uint256 delay
        );
        event CallExecuted(bytes32 indexed id, uint256 indexed index, address target, uint256 value, bytes data);
        event CallSalt(bytes32 indexed id, bytes32 salt);
        event Cancelled(bytes32 indexed id);
        event MinDelayChange(uint256 oldDuration, uint256 newDuration);
    }

    /// OpenZeppelin `AccessControl`, as both `GroupToken` and `GroupTimelock` implement it.
    #[derive(Debug)]
    interface IAccessControl {
        function DEFAULT_ADMIN_ROLE() external view returns (bytes32);
        function hasRole(bytes32 role, address account) external view returns (bool);
        function getRoleAdmin(bytes32 role) external view returns (bytes32);
        function grantRole(bytes32 role, address account) external;
        function revokeRole(bytes32 role, address account) external;
        function renounceRole(bytes32 role, address callerConfirmation) external;

        event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole);
        event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
        event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    }

    /// `GroupToken`: ERC20 + ERC20Permit + ERC20Votes (block-number clock), minted by
    /// `MINTER_ROLE`.
    #[derive(Debug)]
    interface IGroupToken {
        function MINTER_ROLE() external view returns (bytes32);
        function setRoleAdmin(bytes32 role, bytes32 adminRole) external;
        function name() external view returns (string memory);
        function symbol() external view returns (string memory);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
        function transferFrom(address from, address to, uint256 value) external returns (bool);
        function mint(address to, uint256 amount) external;
        function delegate(address delegatee) external;
        function delegates(address account) external view returns (address);
        function getVotes(address account) external view returns (uint256);
        function getPastVotes(address account, uint256 timepoint) external view returns (uint256);
        function getPastTotalSupply(uint256 timepoint) external view returns (uint256);
        function clock() external view returns (uint48);

        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);
        event DelegateChanged(address indexed delegator, address indexed fromDelegate, address indexed toDelegate);
        event DelegateVotesChanged(address indexed delegate, uint256 previousVotes, uint256 newVotes);
    }

    /// OpenZeppelin `Ownable2Step`, as `OwnedVault` implements it.
    #[derive(Debug)]
    interface IOwnable2Step {
        function owner() external view returns (address);
        function pendingOwner() external view returns (address);
        function transferOwnership(address newOwner) external;
        function acceptOwnership() external;
        function renounceOwnership() external;

        event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
        event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    }

    /// `OwnedVault`: holds ether and ERC-20 tokens and pays them out on its owner's order.
    #[derive(Debug)]
    interface IOwnedVault {
        function pay(address to, uint256 amount) external;
        function payToken(address token, address to, uint256 amount) external;

        event Paid(address indexed to, uint256 amount);
        event PaidToken(address indexed token, address indexed to, uint256 amount);
    }
}
