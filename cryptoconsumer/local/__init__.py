"""Run the whole pipeline on one machine: an embedded AWS emulator plus Lambda's Kinesis poller."""
