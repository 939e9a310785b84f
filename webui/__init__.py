"""The dashboard's logic, kept apart from the Streamlit page (`dashboard.py`) so it can be tested
without a browser: texts in two languages, uploads, job submission, history, exports."""
