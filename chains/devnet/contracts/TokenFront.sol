// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @notice The ledger of a token reached through a front contract: balances and Transfer
/// logs live here, at another address than the one users call (as with proxy-style fronts).
contract TokenLedger {
    address public immutable front;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor() {
        front = msg.sender;
    }

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function moveFor(address from, address to, uint256 value) external returns (bool) {
        require(msg.sender == front, "front only");
        require(balanceOf[from] >= value, "balance too low");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
        return true;
    }
}

/// @notice The address users call: it forwards to its ledger and emits nothing itself.
contract TokenFront {
    TokenLedger public immutable ledger;
    string public name;
    string public symbol;
    uint8 public immutable decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        ledger = new TokenLedger();
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
    }

    function balanceOf(address account) external view returns (uint256) {
        return ledger.balanceOf(account);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        return ledger.moveFor(msg.sender, to, value);
    }

    function mint(address to, uint256 value) external {
        ledger.mint(to, value);
    }
}
