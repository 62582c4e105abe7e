// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @notice Stands for a smart-contract deposit address: it accepts native coin and holds
/// tokens but has no function to move them, so funds sent to it cannot be recovered by key.
contract DepositWallet {
    event Received(address indexed from, uint256 value);

    receive() external payable {
        emit Received(msg.sender, msg.value);
    }
}
