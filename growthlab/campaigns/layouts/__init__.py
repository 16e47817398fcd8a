"""Code-owned email layouts: the compliance footer every campaign email gets."""
