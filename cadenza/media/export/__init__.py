"""Taking a song into a DAW: a REAPER project, an Ardour session, or everything in one archive."""
