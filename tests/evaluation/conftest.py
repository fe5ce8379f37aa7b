from tests.training.conftest import one_thread, write_recipe  # noqa: F401  (fixtures)
