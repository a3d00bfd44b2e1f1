"""``ats tag find`` against ``grep -rE`` over 10,000 files: ``python -m bench run tags``."""
