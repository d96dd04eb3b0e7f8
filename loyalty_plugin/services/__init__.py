"""Units of work over the domain and the models. No Flask: a session comes in as argument."""
