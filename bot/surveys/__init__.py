"""Surveys (consultations): answers in progress (sealed), results, the file format and the
templates. The commands that change a survey are in bot/usecases/surveys.py."""
