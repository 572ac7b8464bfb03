"""The implementation of ember.nn.functional, split by topic; import from ember.nn.functional."""
