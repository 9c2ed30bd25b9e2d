"""The regression seeder: journey maps → pytest-playwright suites (codegen) and the small runtime
library those suites call (runtime, which opens the journey of journey.py through a browser or an
API driver)."""
