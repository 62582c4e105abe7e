// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IERC20From {
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @notice Sends one token to several recipients in one transaction (several Transfer logs).
contract BatchSender {
    function send(address token, address[] calldata recipients, uint256[] calldata values)
        external
    {
        require(recipients.length == values.length, "length mismatch");
        for (uint256 i = 0; i < recipients.length; i++) {
            require(
                IERC20From(token).transferFrom(msg.sender, recipients[i], values[i]),
                "transferFrom failed"
            );
        }
    }
}
