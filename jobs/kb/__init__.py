"""The knowledge bank: loading and validating it (bank), model-proposed expansion (expand), search keywords."""
