// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @notice Sends native coin on from inside its own execution: the recipients get it through
/// internal transfers (call frames), never as the transaction's top-level value.
contract Forwarder {
    /// @notice Forwards the whole msg.value to `to`.
    function forward(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "forward failed");
    }

    /// @notice Splits msg.value over `recipients`, one call frame each.
    function split(address payable[] calldata recipients, uint256[] calldata values)
        external
        payable
    {
        require(recipients.length == values.length, "length mismatch");
        for (uint256 i = 0; i < recipients.length; i++) {
            (bool ok, ) = recipients[i].call{value: values[i]}("");
            require(ok, "split failed");
        }
    }

    /// @notice Tries to forward msg.value through a sub-call that reverts after sending, and
    /// keeps the value: the transaction succeeds, the frame paying `to` is undone.
    function forwardThenUndo(address payable to) external payable {
        try this.sendAndRevert{value: msg.value}(to) {} catch {}
    }

    /// @notice Sends msg.value to `to`, then reverts (undoing the send).
    function sendAndRevert(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "send failed");
        revert("undone");
    }

    receive() external payable {}
}
