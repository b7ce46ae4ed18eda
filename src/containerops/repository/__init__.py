"""The component repository: the registry that holds the images (``registry``), the
metadata in the store (``catalog``), references (``refs``), push and pull
(``transfer``), and using components in flows (``usage``)."""
