// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @notice ERC-20 with the misbehaviours seen on real tokens, switched on by its owner:
/// fee on transfer, pause, a block list, `false` returns instead of reverts, and seizure.
/// @dev For devnet tests only. Anyone may mint; the owner is the deployer.
contract QuirkyToken {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;
    address public immutable owner;

    /// Fee in basis points of each transfer, paid to the owner out of the amount sent.
    uint16 public feeBps;
    bool public paused;
    /// When set, a transfer the sender cannot cover returns false and moves nothing.
    bool public returnFalse;
    mapping(address => bool) public blocked;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        owner = msg.sender;
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    function setFeeBps(uint16 bps) external onlyOwner {
        require(bps <= 10_000, "fee above 100%");
        feeBps = bps;
    }

    function setPaused(bool value) external onlyOwner {
        paused = value;
    }

    function setBlocked(address account, bool value) external onlyOwner {
        blocked[account] = value;
    }

    function setReturnFalse(bool value) external onlyOwner {
        returnFalse = value;
    }

    /// Clawback: the owner moves anyone's balance, whatever the other knobs say.
    function seize(address from, address to, uint256 value) external onlyOwner {
        require(balanceOf[from] >= value, "balance too low");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }

    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        return _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance too low");
        if (!_move(from, to, value)) {
            return false;
        }
        if (allowed != type(uint256).max) {
            allowance[from][msg.sender] = allowed - value;
        }
        return true;
    }

    function _move(address from, address to, uint256 value) internal returns (bool) {
        require(!paused, "paused");
        require(!blocked[from] && !blocked[to], "blocked");
        if (balanceOf[from] < value) {
            if (returnFalse) {
                return false;
            }
            revert("balance too low");
        }
        uint256 fee = (value * feeBps) / 10_000;
        balanceOf[from] -= value;
        balanceOf[to] += value - fee;
        emit Transfer(from, to, value - fee);
        if (fee > 0) {
            balanceOf[owner] += fee;
            emit Transfer(from, owner, fee);
        }
        return true;
    }
}
