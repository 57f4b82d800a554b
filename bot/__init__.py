"""Cited Q&A chatbot for China's value-added telecom licences."""

__version__ = "0.1.0"
