"""From a routine to a timeline: the pure compiler, doses, --length fitting, the timeline."""
