"""Discovery: finding mis-sent deposits at registered addresses before anyone appeals."""
