"""Parts of the offline stand-in model (jobs/sources/offline_model.py): perception and the generator's plants."""
