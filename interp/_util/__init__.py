"""Private helpers shared by the whole library: errors, output files, the cache folder, run records, progress bars,
record listings and lazy package exports. Import the module you need (`interp._util.files`); nothing is re-exported.
"""
