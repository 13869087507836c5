"""The web studio: a Gradio app mounted on the API's FastAPI app, driving the same job service."""
