# make run   - install what is missing, set up .venv, run the studio on its embedded defaults
# make test  - install what is missing (Chromium too), set up .venv, run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test setup system-deps system-deps-test translations bench clean

run: system-deps setup
	$(BIN)/studio serve

test: system-deps-test setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

system-deps:
	scripts/install-system-deps.sh

system-deps-test:
	scripts/install-system-deps.sh --test

# Re-extract and compile the UI catalogues after changing user-facing strings.
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o studio/translations/messages.pot .
	$(BIN)/pybabel update -i studio/translations/messages.pot -d studio/translations --no-fuzzy-matching
	$(BIN)/python scripts/fill_translations.py
	$(BIN)/pybabel compile -d studio/translations

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) build dist *.egg-info
