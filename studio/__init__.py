"""The Gradio studio over the vaestudio engine: ``app.build_demo(engine)`` assembles the tabs; ``engine.py``
is the only module that imports vaestudio or torch, ``fake_engine.py`` the UI tests' stand-in."""
