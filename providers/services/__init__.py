"""Model-provider services: credentials, custom models, settings, defaults, prices, and the invocation
service the runners and the workflow engine call (`providers.services.invocation`). Import the
submodules directly."""
