"""What every layer shares and nothing else owns: the error vocabulary's base and the settings."""
