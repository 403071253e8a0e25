"""The command line: the click commands (:mod:`.app`) with their shared options
(:mod:`.options`) and error group (:mod:`.group`), what they do as library functions
(:mod:`.commands`), and the process's entry point, signals and exits (:mod:`.main`)."""
