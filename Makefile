# Shortcuts for ./dev (which needs only bash, so it also works where make is not installed yet).
BIN = .venv/bin

.PHONY: run test setup translations bench clean

run:
	./dev run

test:
	./dev test $(PYTEST_ARGS)

setup:
	./dev setup

# Re-extract and compile the UI catalogues after changing user-facing strings;
# translations live in studio/translations/vi_strings.py.
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o studio/translations/messages.pot .
	$(BIN)/pybabel update -i studio/translations/messages.pot -d studio/translations --no-fuzzy-matching
	$(BIN)/python scripts/fill_translations.py
	$(BIN)/pybabel compile -d studio/translations

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf .venv build dist *.egg-info
