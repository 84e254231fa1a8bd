"""Files in, chunks out: discovery of a folder's files (files.py), a loader per format (loaders.py
and formats/), document structure (structure.py: headings, title), chunking with exact offsets
(chunking.py), page/sheet/slide places for citations (places.py) and the page's uploads
(uploads.py). Nothing here embeds or stores."""
