"""The command line: click commands over the library, and the process's signals and exits."""
