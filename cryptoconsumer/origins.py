"""Where an option's value came from, in precedence order (strongest first)."""

COMMAND_LINE = "command line"
ENVIRONMENT = "environment"
STACK_FILE = "stack file"
RECORDED = "recorded"
DEFAULT = "default"
GIVEN = "given"  # built in code (tests, the demo): no finer origin
