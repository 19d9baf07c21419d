"""The ops floor: the differentiable contract (``Parameter``, ``Layer``), activations, losses,
initializers, special functions, and the layers in ``layers/``. Array API only: every function
takes the namespace of its input arrays."""
