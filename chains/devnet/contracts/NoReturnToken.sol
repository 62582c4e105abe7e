// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @notice Token whose transfer() returns nothing (mainnet USDT style) and which has no
/// decimals(), name() or symbol() at all: metadata reads must revert and be tolerated.
contract NoReturnToken {
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external {
        require(balanceOf[msg.sender] >= value, "balance too low");
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
    }
}
