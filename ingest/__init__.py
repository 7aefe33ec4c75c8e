"""Card images in, extractions out: load → preprocess → OCR → fields. Knows nothing of storage or HTTP."""
