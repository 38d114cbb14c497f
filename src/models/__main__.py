"""`python -m src.models`: the registered models as README's Markdown table (README carries this output)."""
from src.models.registry import registry_table

if __name__ == '__main__':
    print(registry_table())
