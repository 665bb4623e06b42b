# Shortcuts for ./dev (which needs only bash, so it also works where make is not installed yet).
BIN = .venv/bin

.PHONY: run test setup translations bench clean

run:
	./dev run

test:
	./dev test $(PYTEST_ARGS)

setup:
	./dev setup

# Re-extract and compile the UI catalogue after changing user-facing strings. The one catalogue is
# studio/translations/vi/LC_MESSAGES/messages.po: write the Vietnamese of new messages there (any PO
# editor, e.g. Poedit, or by hand), then run this again; --statistics says how many are still empty.
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ -w 100 -o studio/translations/messages.pot .
	$(BIN)/pybabel update -i studio/translations/messages.pot -d studio/translations -w 100 --no-fuzzy-matching
	$(BIN)/pybabel compile --statistics -d studio/translations

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf .venv build dist *.egg-info
