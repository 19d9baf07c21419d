"""Tools every floor above the backend shares: argument validators and the name registries."""
