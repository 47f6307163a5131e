"""Every gin configurable of the project, registered by importing the modules that define them,
so that bindings can name them (the CLI before parsing a config, Ray workers before running an
execution). A study of your own registers its module with a gin `import` line."""


def register_everything():
    import components.mask_search  # noqa: F401
    import components.reports.report  # noqa: F401
    import components.sparse_training  # noqa: F401
    import lth_tf.data  # noqa: F401
    import lth_tf.models  # noqa: F401
    import lth_tf.sparsity.hparams  # noqa: F401
    import lth_tf.training  # noqa: F401
    import pipelines.data_diet  # noqa: F401
    import pipelines.prac  # noqa: F401
    import pipelines.ray_resources  # noqa: F401  (RayResources)
    import pipelines.sanity  # noqa: F401
    import pipelines.stability  # noqa: F401
