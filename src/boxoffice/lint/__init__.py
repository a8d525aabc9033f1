"""Checks of the code's shape that plain tools do not make (custom import-linter contracts)."""
