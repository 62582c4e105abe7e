// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @notice Minimal ERC-721-style collectible: its Transfer log has 4 topics (indexed token id),
/// which a reader of ERC-20 transfers must not mistake for a fungible transfer.
contract TestCollectible {
    mapping(uint256 => address) public ownerOf;

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function mint(address to, uint256 tokenId) external {
        require(ownerOf[tokenId] == address(0), "already minted");
        ownerOf[tokenId] = to;
        emit Transfer(address(0), to, tokenId);
    }
}
