"""One module per studio tab; each builds its form and wires it to the shared result panel."""
